-- CreateTable
CREATE TABLE "Interaction" (
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
    "providersUsed" JSONB NOT NULL,
    "tokensIn" INTEGER NOT NULL,
    "tokensOut" INTEGER NOT NULL,
    "costUsd" REAL NOT NULL,
    "processingTimeMs" INTEGER NOT NULL,
    "startedAt" DATETIME NOT NULL,
    "completedAt" DATETIME NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "ProviderCall" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "interactionId" TEXT NOT NULL,
    "callIndex" INTEGER NOT NULL,
    "provider" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL,
    "status" TEXT NOT NULL,
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

-- CreateTable
CREATE TABLE "RoutingPolicyVersion" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "version" INTEGER NOT NULL,
    "policy" JSONB NOT NULL,
    "configHash" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateIndex
CREATE UNIQUE INDEX "Interaction_workflowId_key" ON "Interaction"("workflowId");

-- CreateIndex
CREATE INDEX "Interaction_userId_createdAt_idx" ON "Interaction"("userId", "createdAt");

-- CreateIndex
CREATE INDEX "Interaction_taskType_createdAt_idx" ON "Interaction"("taskType", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "ProviderCall_interactionId_callIndex_key" ON "ProviderCall"("interactionId", "callIndex");

-- CreateIndex
CREATE UNIQUE INDEX "RoutingPolicyVersion_version_key" ON "RoutingPolicyVersion"("version");

-- CreateIndex
CREATE INDEX "RoutingPolicyVersion_configHash_idx" ON "RoutingPolicyVersion"("configHash");
