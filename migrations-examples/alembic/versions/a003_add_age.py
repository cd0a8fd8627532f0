"""add age

Revision ID: a003
Revises: a002
"""
from alembic import op
import sqlalchemy as sa

revision = "a003"
down_revision = 'a002'


def upgrade():
    op.add_column("users", sa.Column("age", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    op.drop_column("users", "age")
