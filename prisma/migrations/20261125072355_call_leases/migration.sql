-- CreateTable
CREATE TABLE "CallLease" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "scope" TEXT NOT NULL,
    "holder" TEXT,
    "expiresAt" DATETIME NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateIndex
CREATE INDEX "CallLease_scope_expiresAt_idx" ON "CallLease"("scope", "expiresAt");
