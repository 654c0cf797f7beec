"""Alembic environment: migrations run on a connection handed in by server.db."""

from __future__ import annotations

from alembic import context

import server.models_broadcast  # broadcast destinations and options
import server.models_hls  # replay, watch time, site visitors
import server.models_interaction  # chat, question, ...
import server.models_interpretation  # listening to language channels
import server.models_poll  # noqa: F401  (polls, reaction totals)
from server.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `halqa migrate` (or on start), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
