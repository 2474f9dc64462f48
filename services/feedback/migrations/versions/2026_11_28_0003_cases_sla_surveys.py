"""service cases with SLA clocks, survey invitations, CES, customer read model; complaints become cases

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Every complaint becomes a case of kind `complaint` (state `opened`, same id, description kept as
stored: the same key and field name seal it), with its SLA clocks started at its opening time.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "known_customers",
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("relationship_manager_id", sa.String(128), nullable=True),
        sa.Column("tier", sa.String(16), nullable=True),
        sa.Column("erased", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _time, nullable=False),
    )
    op.create_index("ix_known_customers_relationship_manager_id", "known_customers", ["relationship_manager_id"])
    op.create_table(
        "cases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("complexity", sa.String(8), nullable=False),
        sa.Column("product", sa.String(64), nullable=True),
        sa.Column("tier", sa.String(16), nullable=True),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("assignee", sa.String(128), nullable=True),
        sa.Column("team", sa.String(64), nullable=True),
        sa.Column("root_cause", sa.String(64), nullable=True),
        sa.Column(
            "reopened_from",
            sa.String(36),
            sa.ForeignKey("cases.id", name="fk_cases_reopened_from_cases"),
            nullable=True,
        ),
        sa.Column("answer_id", sa.String(36), nullable=True),
        sa.Column("opened_by", sa.String(128), nullable=False),
        sa.Column("opened_at", _time, nullable=False),
        sa.Column("first_answer_at", _time, nullable=True),
        sa.Column("resolved_at", _time, nullable=True),
        sa.Column("followed_up_at", _time, nullable=True),
        sa.Column("closed_at", _time, nullable=True),
        sa.Column("escalated_at", _time, nullable=True),
        sa.Column("sla_breached", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _time, nullable=False),
    )
    op.create_index("ix_cases_opened_at", "cases", ["opened_at"])
    op.create_index("ix_cases_customer_id_opened_at", "cases", ["customer_id", "opened_at"])
    op.create_index("ix_cases_state", "cases", ["state"])
    op.create_index("ix_cases_reopened_from", "cases", ["reopened_from"])
    op.create_index("ix_cases_answer_id", "cases", ["answer_id"])
    op.create_table(
        "case_notes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "case_id", sa.String(36), sa.ForeignKey("cases.id", name="fk_case_notes_case_id_cases"), nullable=False
        ),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_at", _time, nullable=False),
    )
    op.create_index("ix_case_notes_case_id", "case_notes", ["case_id"])
    op.create_table(
        "sla_clocks",
        sa.Column("id", _position, primary_key=True, autoincrement=True),
        sa.Column(
            "case_id", sa.String(36), sa.ForeignKey("cases.id", name="fk_sla_clocks_case_id_cases"), nullable=False
        ),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("started_at", _time, nullable=False),
        sa.Column("warning_at", _time, nullable=False),
        sa.Column("breach_at", _time, nullable=False),
        sa.Column("paused_at", _time, nullable=True),
        sa.Column("next_due_at", _time, nullable=True),
        sa.Column("warned_at", _time, nullable=True),
        sa.Column("escalated_at", _time, nullable=True),
        sa.Column("met_at", _time, nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("case_id", "kind", name="uq_sla_clocks_case_id"),
    )
    op.create_index(
        "ix_sla_clocks_due",
        "sla_clocks",
        ["next_due_at"],
        postgresql_where=sa.text("state = 'running'"),
        sqlite_where=sa.text("state = 'running'"),
    )
    op.create_table(
        "survey_invitations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("survey", sa.String(8), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=True),
        sa.Column("interaction_id", sa.String(64), nullable=True),
        sa.Column("product", sa.String(64), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", _time, nullable=False),
        sa.Column("expires_at", _time, nullable=False),
        sa.Column("answered_at", _time, nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_survey_invitations_token_hash"),
    )
    op.create_index("ix_survey_invitations_customer_id", "survey_invitations", ["customer_id"])
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("invitation_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("case_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("interaction_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("tier", sa.String(16), nullable=True))
        batch.add_column(sa.Column("product", sa.String(64), nullable=True))
        batch.add_column(sa.Column("detractor", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_unique_constraint("uq_feedback_invitation_id", ["invitation_id"])
    with op.batch_alter_table("feedback") as batch:
        batch.alter_column("detractor", server_default=None)
    op.execute("UPDATE feedback SET detractor = ((survey = 'nps' AND score <= 6) OR (survey = 'csat' AND score <= 2))")
    op.create_index("ix_feedback_case_id", "feedback", ["case_id"])
    op.create_index(
        "ix_feedback_received_at",
        "feedback",
        ["received_at", "survey", "score", "detractor", "channel", "tier", "product"],
    )

    op.execute(
        "INSERT INTO cases (id, customer_id, kind, category, channel, priority, complexity, state, description,"
        " opened_by, opened_at, sla_breached, updated_at)"
        " SELECT id, customer_id, 'complaint', category, channel, 'normal', 'simple', 'opened', description,"
        " 'migration', opened_at, false, opened_at FROM complaints"
    )
    # Clocks of migrated complaints, with the default targets (first answer 24 h, resolution 24 h,
    # warning at 75 %); the SLA job acts on those already due at its first run.
    for kind, hours in (("first_answer", 24), ("resolution", 24)):
        if op.get_bind().dialect.name == "postgresql":
            warning, breach = f"opened_at + interval '{hours * 0.75} hours'", f"opened_at + interval '{hours} hours'"
        else:
            warning, breach = f"datetime(opened_at, '+{hours * 45} minutes')", f"datetime(opened_at, '+{hours} hours')"
        op.execute(
            "INSERT INTO sla_clocks (case_id, customer_id, kind, state, started_at, warning_at, breach_at, next_due_at,"
            f" breached) SELECT id, customer_id, '{kind}', 'running', opened_at, {warning}, {breach}, {warning}, false"
            " FROM complaints"
        )
    op.drop_table("complaints")


def downgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", _time, nullable=False),
    )
    op.create_index("ix_complaints_customer_id", "complaints", ["customer_id"])
    op.execute(
        "INSERT INTO complaints (id, customer_id, category, channel, description, status, opened_at)"
        " SELECT id, customer_id, category, channel, description, 'open', opened_at FROM cases WHERE kind = 'complaint'"
    )
    op.drop_index("ix_feedback_received_at", "feedback")
    op.drop_index("ix_feedback_case_id", "feedback")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_constraint("uq_feedback_invitation_id", type_="unique")
        for column in ("detractor", "product", "tier", "interaction_id", "case_id", "invitation_id"):
            batch.drop_column(column)
    for table in ("survey_invitations", "sla_clocks", "case_notes", "cases", "known_customers"):
        op.drop_table(table)
