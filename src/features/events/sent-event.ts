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
  /**
   * What D1 keeps for the entity when not the entity itself: a reference to its R2 object (an entity
   * over 16 KiB, `history/entity-object.ts`). A row is always written, and packed, with this.
   */
  stored?: string;
}
