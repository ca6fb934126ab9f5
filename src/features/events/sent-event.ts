/**
 * An event as a delivery sends it: the entity is its stored JSON text, embedded in the body byte
 * for byte (so every try of a delivery sends, and signs, the same bytes).
 */
export interface SentEvent {
  id: string;
  type: string;
  accountId: string;
  createdAt: number;
  entity: string;
}
