import type { Child } from "hono/jsx";

/**
 * The HTML around the Worker's own pages (the OAuth consent page, the customer portal): the admin
 * page's stylesheet, no inline style or script, so each page's CSP can stay `style-src 'self'`.
 */
export function HtmlPage(props: { title: string; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="/admin/app.css" />
      </head>
      <body>{props.children}</body>
    </html>
  );
}
