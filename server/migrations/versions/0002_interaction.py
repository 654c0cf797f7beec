"""live interaction: chat, questions, votes, sanctions, attendance; session settings

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy): SQLite supports it natively, and a batch
    # copy of `session` would cascade-delete its children with foreign keys on.
    op.add_column("session", sa.Column("qa_mode", sa.String(16), nullable=False,
                                       server_default="moderated"))
    op.add_column("session", sa.Column("slow_mode", sa.Integer(), nullable=False,
                                       server_default="0"))
    op.add_column("session", sa.Column("peak_viewers", sa.Integer(), nullable=False,
                                       server_default="0"))
    op.create_table(
        "chat_message",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("author_key", sa.String(32), nullable=False),
        sa.Column("author_name", sa.String(200), nullable=False),
        sa.Column("author_role", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["session.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_chat_message_session_id_id", "chat_message", ["session_id", "id"])
    op.create_table(
        "question",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("author_key", sa.String(32), nullable=False),
        sa.Column("author_name", sa.String(200), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("highlighted", sa.Boolean(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["session.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_question_session_id_status", "question", ["session_id", "status"])
    op.create_table(
        "question_vote",
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("voter_key", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["question.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("question_id", "voter_key"),
    )
    op.create_table(
        "sanction",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("subject_key", sa.String(32), nullable=False),
        sa.Column("subject_name", sa.String(200), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("lifted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["session.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sanction_subject_key", "sanction", ["subject_key"])
    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("subject_key", sa.String(32), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("joined_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("left_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["session.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["participant_id"], ["participant.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_attendance_session_id_subject_key", "attendance",
                    ["session_id", "subject_key"])


def downgrade() -> None:
    op.drop_table("attendance")
    op.drop_table("sanction")
    op.drop_table("question_vote")
    op.drop_table("question")
    op.drop_table("chat_message")
    with op.batch_alter_table("session") as b:
        b.drop_column("peak_viewers")
        b.drop_column("slow_mode")
        b.drop_column("qa_mode")
