"""Cases: every unhappy customer becomes a case with an owner, a due date and a reply.

Pure like the other domain packages: `rules` (the rules file), `triggers` (which signals open a case),
`flow` (keys, priority, due dates, statuses). The store and the use cases are `heedful.services.cases`.
"""
