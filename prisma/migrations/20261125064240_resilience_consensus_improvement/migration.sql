-- CreateTable
CREATE TABLE "Feedback" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "interactionId" TEXT NOT NULL,
    "score" REAL NOT NULL,
    "comment" TEXT,
    "source" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Feedback_interactionId_fkey" FOREIGN KEY ("interactionId") REFERENCES "Interaction" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "EmbeddingCache" (
    "hash" TEXT NOT NULL PRIMARY KEY,
    "model" TEXT NOT NULL,
    "dims" INTEGER NOT NULL,
    "vector" BLOB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "CircuitState" (
    "key" TEXT NOT NULL PRIMARY KEY,
    "state" TEXT NOT NULL,
    "failures" INTEGER NOT NULL,
    "windowStart" DATETIME NOT NULL,
    "openUntil" DATETIME,
    "lastError" TEXT,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "RateWindow" (
    "key" TEXT NOT NULL PRIMARY KEY,
    "scope" TEXT NOT NULL,
    "requests" INTEGER NOT NULL,
    "tokens" INTEGER NOT NULL,
    "expiresAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "UsageLedger" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "scope" TEXT NOT NULL,
    "period" TEXT NOT NULL,
    "workflowId" TEXT NOT NULL,
    "estimatedUsd" REAL NOT NULL,
    "actualUsd" REAL,
    "tokens" INTEGER NOT NULL DEFAULT 0,
    "status" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "ResponseCache" (
    "key" TEXT NOT NULL PRIMARY KEY,
    "value" JSONB NOT NULL,
    "hits" INTEGER NOT NULL DEFAULT 0,
    "expiresAt" DATETIME NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "Experiment" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "taskType" TEXT NOT NULL,
    "variants" JSONB NOT NULL,
    "trafficShare" REAL NOT NULL,
    "minSamples" INTEGER NOT NULL,
    "status" TEXT NOT NULL,
    "result" JSONB,
    "reason" TEXT,
    "createdBy" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "stoppedAt" DATETIME
);

-- CreateTable
CREATE TABLE "ImprovementReport" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "workflowId" TEXT NOT NULL,
    "windowStart" DATETIME NOT NULL,
    "windowEnd" DATETIME NOT NULL,
    "report" JSONB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "Proposal" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "reportId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "change" JSONB NOT NULL,
    "evidence" JSONB NOT NULL,
    "confidence" REAL NOT NULL,
    "dataPoints" INTEGER NOT NULL,
    "status" TEXT NOT NULL,
    "appliedVersion" INTEGER,
    "decidedBy" TEXT,
    "decidedAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Proposal_reportId_fkey" FOREIGN KEY ("reportId") REFERENCES "ImprovementReport" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Interaction" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "workflowId" TEXT NOT NULL,
    "requestId" TEXT,
    "userId" TEXT NOT NULL,
    "taskType" TEXT NOT NULL,
    "complexity" TEXT NOT NULL,
    "complexityScore" REAL NOT NULL,
    "prompt" TEXT NOT NULL,
    "systemPrompt" TEXT,
    "response" TEXT,
    "confidence" REAL,
    "agreement" REAL,
    "consensusStrategy" TEXT NOT NULL,
    "consensusApplied" BOOLEAN NOT NULL,
    "status" TEXT NOT NULL,
    "errorType" TEXT,
    "errorMessage" TEXT,
    "routingPolicyVersion" INTEGER NOT NULL,
    "routingRule" TEXT,
    "routingDecision" JSONB,
    "thresholdMet" BOOLEAN,
    "lowConfidence" BOOLEAN NOT NULL DEFAULT false,
    "dissenting" JSONB,
    "consensusDetails" JSONB,
    "cancelledCalls" INTEGER NOT NULL DEFAULT 0,
    "latencySavedMs" INTEGER,
    "cacheHit" BOOLEAN NOT NULL DEFAULT false,
    "experimentId" TEXT,
    "variant" TEXT,
    "providersUsed" JSONB NOT NULL,
    "tokensIn" INTEGER NOT NULL,
    "tokensOut" INTEGER NOT NULL,
    "costUsd" REAL NOT NULL,
    "processingTimeMs" INTEGER NOT NULL,
    "startedAt" DATETIME NOT NULL,
    "completedAt" DATETIME NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO "new_Interaction" ("agreement", "completedAt", "complexity", "complexityScore", "confidence", "consensusApplied", "consensusStrategy", "costUsd", "createdAt", "errorMessage", "errorType", "id", "processingTimeMs", "prompt", "providersUsed", "requestId", "response", "routingPolicyVersion", "routingRule", "startedAt", "status", "systemPrompt", "taskType", "tokensIn", "tokensOut", "userId", "workflowId") SELECT "agreement", "completedAt", "complexity", "complexityScore", "confidence", "consensusApplied", "consensusStrategy", "costUsd", "createdAt", "errorMessage", "errorType", "id", "processingTimeMs", "prompt", "providersUsed", "requestId", "response", "routingPolicyVersion", "routingRule", "startedAt", "status", "systemPrompt", "taskType", "tokensIn", "tokensOut", "userId", "workflowId" FROM "Interaction";
DROP TABLE "Interaction";
ALTER TABLE "new_Interaction" RENAME TO "Interaction";
CREATE UNIQUE INDEX "Interaction_workflowId_key" ON "Interaction"("workflowId");
CREATE INDEX "Interaction_userId_createdAt_idx" ON "Interaction"("userId", "createdAt");
CREATE INDEX "Interaction_taskType_createdAt_idx" ON "Interaction"("taskType", "createdAt");
CREATE INDEX "Interaction_experimentId_variant_idx" ON "Interaction"("experimentId", "variant");
CREATE TABLE "new_ProviderCall" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "interactionId" TEXT NOT NULL,
    "callIndex" INTEGER NOT NULL,
    "provider" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL,
    "status" TEXT NOT NULL,
    "hedged" BOOLEAN NOT NULL DEFAULT false,
    "errorType" TEXT,
    "errorMessage" TEXT,
    "latencyMs" REAL,
    "tokensIn" INTEGER NOT NULL,
    "tokensOut" INTEGER NOT NULL,
    "costUsd" REAL NOT NULL,
    "finishReason" TEXT,
    "providerRequestId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ProviderCall_interactionId_fkey" FOREIGN KEY ("interactionId") REFERENCES "Interaction" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_ProviderCall" ("attempts", "callIndex", "costUsd", "createdAt", "errorMessage", "errorType", "finishReason", "id", "interactionId", "latencyMs", "model", "provider", "providerRequestId", "status", "tokensIn", "tokensOut") SELECT "attempts", "callIndex", "costUsd", "createdAt", "errorMessage", "errorType", "finishReason", "id", "interactionId", "latencyMs", "model", "provider", "providerRequestId", "status", "tokensIn", "tokensOut" FROM "ProviderCall";
DROP TABLE "ProviderCall";
ALTER TABLE "new_ProviderCall" RENAME TO "ProviderCall";
CREATE UNIQUE INDEX "ProviderCall_interactionId_callIndex_key" ON "ProviderCall"("interactionId", "callIndex");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE INDEX "Feedback_interactionId_idx" ON "Feedback"("interactionId");

-- CreateIndex
CREATE INDEX "RateWindow_expiresAt_idx" ON "RateWindow"("expiresAt");

-- CreateIndex
CREATE INDEX "UsageLedger_scope_period_idx" ON "UsageLedger"("scope", "period");

-- CreateIndex
CREATE UNIQUE INDEX "UsageLedger_workflowId_scope_key" ON "UsageLedger"("workflowId", "scope");

-- CreateIndex
CREATE INDEX "ResponseCache_expiresAt_idx" ON "ResponseCache"("expiresAt");

-- CreateIndex
CREATE INDEX "Experiment_taskType_status_idx" ON "Experiment"("taskType", "status");

-- CreateIndex
CREATE INDEX "Proposal_status_idx" ON "Proposal"("status");
