-- AlterTable
ALTER TABLE "ResponseCache" ADD COLUMN "ownerWorkflowId" TEXT;

-- CreateIndex
CREATE INDEX "EmbeddingCache_createdAt_idx" ON "EmbeddingCache"("createdAt");

-- CreateIndex
CREATE INDEX "Interaction_createdAt_idx" ON "Interaction"("createdAt");

-- CreateIndex
CREATE INDEX "ResponseCache_ownerWorkflowId_idx" ON "ResponseCache"("ownerWorkflowId");

-- CreateIndex
CREATE INDEX "ResponseCache_createdAt_idx" ON "ResponseCache"("createdAt");

-- CreateIndex
CREATE INDEX "UsageLedger_createdAt_idx" ON "UsageLedger"("createdAt");

-- Backfill: entries written before the owner was recorded name their request workflow in the value.
UPDATE "ResponseCache" SET "ownerWorkflowId" = json_extract("value", '$.workflowId') WHERE "ownerWorkflowId" IS NULL AND json_valid("value");
