"""concurrent index

Revision ID: a008
Revises: a007
"""
from alembic import op
import sqlalchemy as sa

revision = "a008"
down_revision = 'a007'


def upgrade():
    with op.get_context().autocommit_block():
        op.create_index("ix_users_name", "users", ["name"], postgresql_concurrently=True)


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index("ix_users_name", table_name="users", postgresql_concurrently=True)
