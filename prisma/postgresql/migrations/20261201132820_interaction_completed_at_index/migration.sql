-- CreateIndex
CREATE INDEX "Interaction_completedAt_id_idx" ON "Interaction"("completedAt", "id");
