import { render } from "hono/jsx/dom";
import { App } from "./app";

render(<App />, document.getElementById("root")!);
