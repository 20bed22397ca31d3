import type { ReactNode } from "react";

export interface CardProps {
  /** A heading (h2) for the card; omit for an untitled panel. */
  title?: ReactNode;
  /** Buttons or links shown at the right of the title. */
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
  /** Heading level of the title (2 by default: pages have one h1, cards are its sections). */
  level?: 2 | 3;
}

export function Card({ title, actions, children, className, level = 2 }: CardProps) {
  const Heading = level === 2 ? "h2" : "h3";
  return (
    <section className={["card", className ?? ""].filter(Boolean).join(" ")}>
      {title || actions ? (
        <div className="card-header">
          {title ? <Heading className="card-title">{title}</Heading> : <span />}
          {actions ? <div className="card-actions">{actions}</div> : null}
        </div>
      ) : null}
      <div className="card-body">{children}</div>
    </section>
  );
}
