/**
 * Route guards. RequireAuth: no session → /login (remembering where to return).
 * RequirePermission: a role without the permission sees "not available", never
 * the page (the nav does not link it either). While MFA enrolment is required,
 * every page but /security sends there.
 */
import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router-dom";
import type { Permission } from "../session/permissions";
import { useSession } from "../session/useSession";
import { Alert, Loading, PageHeader } from "../ui";

export function RequireAuth({ children }: { children: ReactNode }) {
  const session = useSession();
  const location = useLocation();
  if (session.status === "loading") {
    return (
      <main className="auth-page">
        <Loading label="Signing in…" />
      </main>
    );
  }
  if (session.status !== "authenticated") {
    return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  }
  if (session.mfaEnrolmentRequired && location.pathname !== "/security") {
    return <Navigate to="/security" replace />;
  }
  return <>{children}</>;
}

export function RequirePermission({ permission, title, children }: { permission: Permission; title: string; children: ReactNode }) {
  const session = useSession();
  if (session.mfaEnrolmentRequired || session.can(permission)) return <>{children}</>;
  return (
    <>
      <PageHeader title={title} />
      <Alert tone="warning" title="Not available">
        Your role ({session.role ?? "none"}) does not give access to this page. Ask an owner or admin of your organization.
      </Alert>
    </>
  );
}
