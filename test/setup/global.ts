import type { TestProject } from "vitest/node";
import { startReceiver } from "./receiver";

declare module "vitest" {
  export interface ProvidedContext {
    receiverPort: number;
  }
}

/** Starts the loopback webhook receiver once for the whole run. */
export default async function setup(project: TestProject) {
  const { server, port } = await startReceiver();
  project.provide("receiverPort", port);
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
