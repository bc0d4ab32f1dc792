"""Scale-out roles on Redis: room leases, the worker and web-node roles, and files shared between nodes.

The per-room core (events, room pipeline, service, audit) lives one level up in `bot/`; nothing
there imports this package. Only the entry point (`bot/cli.py`) reaches in, through `roles`.
"""
