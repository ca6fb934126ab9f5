/** One request as the loopback receiver saw it (shared by the receiver and the tests). */
export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}
