import { Fragment } from "react";

/**
 * A URL in monospace that may wrap after its separators (`/`, `?`, `&`, `=`, `.`),
 * so a long endpoint URL never widens the page past a phone's screen. The text
 * (and what is copied) is unchanged: only <wbr> break opportunities are added.
 */
export function BreakableUrl({ url }: { url: string }) {
  const parts = url.split(/(?<=[/?&=.])/);
  return (
    <span className="mono">
      {parts.map((part, i) => (
        <Fragment key={i}>
          {part}
          {i < parts.length - 1 ? <wbr /> : null}
        </Fragment>
      ))}
    </span>
  );
}
