import type { ReactNode } from "react";
import { Brand } from "./Brand";

/** The frame of the logged-out pages (login, invitation, password reset): one centred card in <main>. */
export function PublicPage({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main className="auth-page">
      <div className="auth-card">
        <Brand />
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}
