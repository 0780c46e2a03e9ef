-- AlterTable
ALTER TABLE "ProviderCall" ADD COLUMN     "firstTokenMs" DOUBLE PRECISION;
