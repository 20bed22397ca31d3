/**
 * Routes: the logged-out pages, then the signed-in shell (RequireAuth + Layout)
 * holding one route per page, each behind the permission that offers it (nav.ts).
 */
import { QueryClientProvider } from "@tanstack/react-query";
import { useState, type ComponentType } from "react";
import { BrowserRouter, Route, Routes } from "react-router-dom";
import { makeQueryClient } from "./api/hooks";
import { RequireAuth, RequirePermission } from "./layout/guards";
import { Layout } from "./layout/Layout";
import type { Permission } from "./session/permissions";
import { SessionProvider } from "./session/SessionProvider";
import { AcceptInvitationPage } from "./pages/AcceptInvitationPage";
import { ApiKeysPage } from "./pages/ApiKeysPage";
import { AuditPage } from "./pages/AuditPage";
import { DashboardPage } from "./pages/DashboardPage";
import { InvoiceDetailPage } from "./pages/InvoiceDetailPage";
import { InvoicesPage } from "./pages/InvoicesPage";
import { LoginPage } from "./pages/LoginPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { NotificationsPage } from "./pages/NotificationsPage";
import { PaymentMethodPage } from "./pages/PaymentMethodPage";
import { ResetPasswordConfirmPage } from "./pages/ResetPasswordConfirmPage";
import { ResetPasswordPage } from "./pages/ResetPasswordPage";
import { SecurityPage } from "./pages/SecurityPage";
import { TeamPage } from "./pages/TeamPage";
import { TicketDetailPage } from "./pages/TicketDetailPage";
import { TicketsPage } from "./pages/TicketsPage";
import { UsageAlertsPage } from "./pages/UsageAlertsPage";
import { WebhooksPage } from "./pages/WebhooksPage";

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
        </BrowserRouter>
      </SessionProvider>
    </QueryClientProvider>
  );
}
