-- AlterTable
ALTER TABLE "Interaction" ADD COLUMN "queuedMs" INTEGER;
ALTER TABLE "Interaction" ADD COLUMN "requestFingerprint" JSONB;
ALTER TABLE "Interaction" ADD COLUMN "result" JSONB;
ALTER TABLE "Interaction" ADD COLUMN "runId" TEXT;
