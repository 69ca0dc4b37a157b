"""Compare ways to run the listening encoder on ONNX Runtime (prints JSON; writes nothing into the package).

The shipped encoder (`listen/models/listen_encoder.onnx`) has int8 weights and *dynamic* int8
activations: each call scales its activations by their own range, so texts read in one batch change each
other's results, and `reader.py` reads every text alone, one per thread. This script checks the
alternatives that would allow padded batches with results independent of the batch, built from the
shipped model's weights (dequantised: the fp32 weights are not kept; `train_listening.py --keep-fp32`
keeps them when it trains):

- fp32: the int8 weights dequantised, fp32 activations;
- static int8 (QDQ, per-channel weights, MinMax activation ranges calibrated on training texts: clothing
  reviews of the training products outside the development sample, SemEval train sentences and
  "sentence [SEP] theme" pairs);
- weight-only 8-bit (MatMulNBits, blocks of 32, accuracy level 4: activations quantised per row);
- the shipped model as `reader.py` runs it, and without ONNX Runtime's SkipLayerNormFusion.

For each: file size, texts read per CPU-second on one thread (one text per call, and padded batches of
16 sorted by length) over the 600-review development sample of the training products (never evaluated),
and the share of whole-text labels equal to the shipped model's, read alone and in batches of 16.

Usage: .venv/bin/python scripts/quantize_listening.py [--data ../shared/data] [--calibration 150]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_listening import SEED, development_split, semeval

from heedful.listen.embed import model_path
from heedful.listen.heads import load_heads
from heedful.listen.reader import ENCODER_FILE, MAX_PIECES
from heedful.services.listen_eval import SEMEVAL_DIR, read_star_reviews, star_development_sample

ROOT = Path(__file__).resolve().parents[1]


def dequantise(model: Any) -> Any:
    """The dynamic-int8 graph with fp32 MatMuls and embeddings (weights = scale x int8 values)."""
    from onnx import helper
    from onnx import numpy_helper as nh

    g = model.graph
    inits = {i.name: i for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list[Any]] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def array(name: str) -> np.ndarray:
        return np.asarray(nh.to_array(inits[name]), np.float32)

    added: list[Any] = []
    replace: dict[int, Any] = {}
    for n in g.node:
        if n.op_type == "MatMulInteger":  # DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(scales)
            xq, wq, _, wzp = n.input
            cast = consumers[n.output[0]][0]
            mul = consumers[cast.output[0]][0]
            scales = producer[next(i for i in mul.input if i != cast.output[0])]
            wscale = next(i for i in scales.input if i in inits)
            added.append(nh.from_array((array(wq) - array(wzp)) * array(wscale), wq + "_fp32"))
            replace[id(n)] = helper.make_node("MatMul", [producer[xq].input[0], wq + "_fp32"], [mul.output[0]])
            replace[id(cast)] = replace[id(mul)] = None
        elif n.op_type == "DequantizeLinear" and n.input[0] in producer and producer[n.input[0]].op_type == "Gather":
            gather = producer[n.input[0]]
            table = gather.input[0]
            zero = array(n.input[2]) if len(n.input) > 2 else 0.0
            added.append(nh.from_array((array(table) - zero) * array(n.input[1]), table + "_fp32"))
            attrs = {a.name: helper.get_attribute_value(a) for a in gather.attribute}
            replace[id(gather)] = helper.make_node("Gather", [table + "_fp32", gather.input[1]], [n.output[0]], **attrs)
            replace[id(n)] = None
    nodes = [replace.get(id(n), n) for n in g.node]
    nodes = [n for n in nodes if n is not None]
    while True:  # drop what nothing reads any more
        used = {o.name for o in g.output} | {i for n in nodes for i in n.input}
        kept = [n for n in nodes if any(o in used for o in n.output)]
        if len(kept) == len(nodes):
            break
        nodes = kept
    used = {i for n in nodes for i in n.input}
    initializers = [i for i in [*g.initializer, *added] if i.name in used]
    del g.node[:], g.initializer[:]
    g.node.extend(nodes)
    g.initializer.extend(initializers)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--calibration", type=int, default=150, help="calibration texts of each kind")
    args = parser.parse_args()

    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model_path()) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_PIECES)
    stars = read_star_reviews(args.data)
    stars = stars[stars["part"] == "train"]
    development = stars.loc[star_development_sample(stars), "text"].tolist()
    training = stars.drop(star_development_sample(stars))["text"].sample(args.calibration, random_state=SEED).tolist()
    rng = random.Random(SEED)
    train, _ = development_split(semeval(args.data / SEMEVAL_DIR / "Restaurants_Train_v2.xml"), random.Random(SEED))
    themes = ["food", "service", "price", "ambience", "Product quality", "Fit and size", "Delivery speed"]
    calibration = [tokenizer.encode(t) for t in training]
    calibration += [tokenizer.encode(str(s["text"])) for s in rng.sample(train, args.calibration)]
    calibration += [tokenizer.encode(str(s["text"]), rng.choice(themes)) for s in rng.sample(train, args.calibration)]

    def feed(encodings: list[Any]) -> dict[str, np.ndarray]:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), np.int64)
        mask, types = np.zeros_like(ids), np.zeros_like(ids)
        for r, e in enumerate(encodings):
            ids[r, : len(e.ids)], mask[r, : len(e.ids)], types[r, : len(e.ids)] = e.ids, 1, e.type_ids
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}

    class Calibration(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            e = next(self.items, None)
            return None if e is None else feed([e])

    encoded = [tokenizer.encode(t) for t in development]
    by_length = sorted(range(len(encoded)), key=lambda i: len(encoded[i].ids))
    heads = load_heads()

    def measure(path: Path, disabled: list[str], batch: int) -> tuple[float, np.ndarray]:
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, ["CPUExecutionProvider"], disabled_optimizers=disabled)
        first = np.zeros((len(encoded), 384), np.float32)
        started = time.process_time()
        for start in range(0, len(by_length), batch):
            rows = by_length[start : start + batch]
            first[rows] = session.run(None, feed([encoded[i] for i in rows]))[0][:, 0]
        speed = len(encoded) / (time.process_time() - started)
        return speed, heads.overall_from_first(first).argmax(1)

    shipped = resources.files("heedful.listen").joinpath("models", ENCODER_FILE)
    report: dict[str, object] = {"development_reviews": len(encoded), "calibration_texts": len(calibration)}
    with tempfile.TemporaryDirectory() as folder, resources.as_file(shipped) as shipped_path:
        work = Path(folder)
        onnx.save(dequantise(onnx.load(shipped_path)), work / "fp32.onnx")
        quantize_static(
            str(work / "fp32.onnx"),
            str(work / "static.onnx"),
            Calibration(),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["MatMul", "Gather"],
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            extra_options={"MatMulConstBOnly": True, "WeightSymmetric": True},
        )
        config = DefaultWeightOnlyQuantConfig(block_size=32, is_symmetric=True, accuracy_level=4, bits=8)
        nbits = MatMulNBitsQuantizer(onnx.load(work / "fp32.onnx"), algo_config=config)
        nbits.process()
        nbits.model.save_model_to_file(str(work / "nbits8.onnx"), use_external_data_format=False)
        _, reference = measure(shipped_path, [], 1)
        variants = {
            "shipped dynamic int8 (reader.py)": (shipped_path, []),
            "shipped dynamic int8, SkipLayerNormFusion off": (shipped_path, ["SkipLayerNormFusion"]),
            "fp32 (dequantised int8 weights)": (work / "fp32.onnx", []),
            "static int8 QDQ, MinMax": (work / "static.onnx", []),
            "weight-only 8-bit MatMulNBits": (work / "nbits8.onnx", []),
        }
        for name, (path, disabled) in variants.items():
            alone, labels_alone = measure(path, disabled, 1)
            batched, labels_batched = measure(path, disabled, 16)
            report[name] = {
                "megabytes": round(path.stat().st_size / 2**20, 1),
                "texts_per_cpu_s_one_per_call": round(alone, 1),
                "texts_per_cpu_s_batches_of_16": round(batched, 1),
                "labels_as_shipped_read_alone": round(float((labels_alone == reference).mean()), 4),
                "labels_as_shipped_in_batches_of_16": round(float((labels_batched == reference).mean()), 4),
            }
            print(json.dumps({name: report[name]}), file=sys.stderr, flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
