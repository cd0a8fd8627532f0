-- Edited by hand after `prisma migrate dev --create-only`: the only statement in the
-- file, so prisma's single query runs it outside a transaction block.
CREATE INDEX CONCURRENTLY "Post_authorId_published_idx" ON "Post"("authorId", "published");
