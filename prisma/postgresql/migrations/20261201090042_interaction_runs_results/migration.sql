-- AlterTable
ALTER TABLE "Interaction" ADD COLUMN     "queuedMs" INTEGER,
ADD COLUMN     "requestFingerprint" JSONB,
ADD COLUMN     "result" JSONB,
ADD COLUMN     "runId" TEXT;
