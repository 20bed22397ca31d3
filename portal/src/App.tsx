/**
 * Routes: the logged-out pages, then the signed-in shell (RequireAuth + Layout)
 * holding one route per page, each behind the permission that offers it (nav.ts).
 */
import { QueryClientProvider } from "@tanstack/react-query";
import { lazy, Suspense, useState, type ComponentType } from "react";
import { BrowserRouter, Route, Routes } from "react-router-dom";
import { makeQueryClient } from "./api/hooks";
import { RequireAuth, RequirePermission } from "./layout/guards";
import { Layout } from "./layout/Layout";
import type { Permission } from "./session/permissions";
import { SessionProvider } from "./session/SessionProvider";
import { Loading } from "./ui";
import { DashboardPage } from "./pages/DashboardPage";
import { LoginPage } from "./pages/LoginPage";
import { NotFoundPage } from "./pages/NotFoundPage";

/**
 * Every page but login and the dashboard (where a login lands) is its own chunk,
 * fetched when first opened: a first visit downloads the login page, the shell and
 * the dashboard, not the card form or the QR code of pages it may never open
 * (`portal_first_visit_gzip_kib` in make bench).
 */
const AcceptInvitationPage = lazy(() => import("./pages/AcceptInvitationPage").then((module) => ({ default: module.AcceptInvitationPage })));
const ApiKeysPage = lazy(() => import("./pages/ApiKeysPage").then((module) => ({ default: module.ApiKeysPage })));
const AuditPage = lazy(() => import("./pages/AuditPage").then((module) => ({ default: module.AuditPage })));
const InvoiceDetailPage = lazy(() => import("./pages/InvoiceDetailPage").then((module) => ({ default: module.InvoiceDetailPage })));
const InvoicesPage = lazy(() => import("./pages/InvoicesPage").then((module) => ({ default: module.InvoicesPage })));
const NotificationsPage = lazy(() => import("./pages/NotificationsPage").then((module) => ({ default: module.NotificationsPage })));
const PaymentMethodPage = lazy(() => import("./pages/PaymentMethodPage").then((module) => ({ default: module.PaymentMethodPage })));
const ResetPasswordConfirmPage = lazy(() => import("./pages/ResetPasswordConfirmPage").then((module) => ({ default: module.ResetPasswordConfirmPage })));
const ResetPasswordPage = lazy(() => import("./pages/ResetPasswordPage").then((module) => ({ default: module.ResetPasswordPage })));
const SecurityPage = lazy(() => import("./pages/SecurityPage").then((module) => ({ default: module.SecurityPage })));
const TeamPage = lazy(() => import("./pages/TeamPage").then((module) => ({ default: module.TeamPage })));
const TicketDetailPage = lazy(() => import("./pages/TicketDetailPage").then((module) => ({ default: module.TicketDetailPage })));
const TicketsPage = lazy(() => import("./pages/TicketsPage").then((module) => ({ default: module.TicketsPage })));
const UsageAlertsPage = lazy(() => import("./pages/UsageAlertsPage").then((module) => ({ default: module.UsageAlertsPage })));
const WebhooksPage = lazy(() => import("./pages/WebhooksPage").then((module) => ({ default: module.WebhooksPage })));

interface PageRoute {
  path: string;
  title: string;
  permission: Permission;
  Page: ComponentType;
}

/** Signed-in pages (paths relative to "/"); `title` is what "not available" shows. */
const PAGES: readonly PageRoute[] = [
  { path: "invoices", title: "Invoices", permission: "invoices", Page: InvoicesPage },
  { path: "invoices/:id", title: "Invoice", permission: "invoices", Page: InvoiceDetailPage },
  { path: "billing/payment-method", title: "Payment method", permission: "payment_method", Page: PaymentMethodPage },
  { path: "api-keys", title: "API keys", permission: "api_keys", Page: ApiKeysPage },
  { path: "webhooks", title: "Webhooks", permission: "webhooks", Page: WebhooksPage },
  { path: "usage-alerts", title: "Usage alerts", permission: "webhooks", Page: UsageAlertsPage },
  { path: "tickets", title: "Support tickets", permission: "read", Page: TicketsPage },
  { path: "tickets/:id", title: "Support ticket", permission: "read", Page: TicketDetailPage },
  { path: "team", title: "Team", permission: "users", Page: TeamPage },
  { path: "security", title: "Security", permission: "read", Page: SecurityPage },
  { path: "audit", title: "Audit trail", permission: "audit", Page: AuditPage },
  { path: "notifications", title: "Notifications", permission: "read", Page: NotificationsPage },
];

export function App() {
  const [queryClient] = useState(makeQueryClient);
  return (
    <QueryClientProvider client={queryClient}>
      <SessionProvider>
        <BrowserRouter>
          <Suspense fallback={<Loading label="Loading the page…" />}>
            <Routes>
              <Route path="/login" element={<LoginPage />} />
              <Route path="/accept-invitation" element={<AcceptInvitationPage />} />
              <Route path="/reset-password" element={<ResetPasswordPage />} />
              <Route path="/reset-password/confirm" element={<ResetPasswordConfirmPage />} />
              <Route
                element={
                  <RequireAuth>
                    <Layout />
                  </RequireAuth>
                }
              >
                <Route index element={<DashboardPage />} />
                {PAGES.map(({ path, title, permission, Page }) => (
                  <Route
                    key={path}
                    path={path}
                    element={
                      <RequirePermission permission={permission} title={title}>
                        <Page />
                      </RequirePermission>
                    }
                  />
                ))}
                <Route path="*" element={<NotFoundPage />} />
              </Route>
            </Routes>
          </Suspense>
        </BrowserRouter>
      </SessionProvider>
    </QueryClientProvider>
  );
}
