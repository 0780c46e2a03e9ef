-- AlterTable
ALTER TABLE "ProviderCall" ADD COLUMN "firstTokenMs" REAL;
