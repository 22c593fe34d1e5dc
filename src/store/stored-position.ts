/** What removing a completion needs to know: where its index rows are. */
export interface StoredPosition {
  seq: number;
  projectId: number;
  id: string;
  created: number;
  model: string;
  requestedModel: string;
  metadata: string;
}
