"""Use cases that span apps: each calls tasks' writes and the money, quality and fair-work rules it needs, in
one transaction that is the outermost one (`durable=True`), so what must commit with it commits with it.

The layer sits above every app and below the interfaces (API, pages, actors, commands); README, "Layers".
"""
