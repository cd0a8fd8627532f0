"""create posts

Revision ID: a002
Revises: a001
"""
from alembic import op
import sqlalchemy as sa

revision = "a002"
down_revision = 'a001'


def upgrade():
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("meta", sa.JSON()),
    )


def downgrade():
    op.drop_table("posts")
