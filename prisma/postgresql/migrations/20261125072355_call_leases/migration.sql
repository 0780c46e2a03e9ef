-- CreateTable
CREATE TABLE "CallLease" (
    "id" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "holder" TEXT,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "CallLease_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "CallLease_scope_expiresAt_idx" ON "CallLease"("scope", "expiresAt");
