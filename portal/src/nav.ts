/**
 * The signed-in pages: path, nav label and the permission that offers them.
 * App.tsx builds its routes from this list and Layout its side nav, so a page
 * a role may not use is neither linked nor reachable (RequirePermission).
 */
import type { Permission } from "./session/permissions";

export interface NavEntry {
  path: string;
  label: string;
  permission: Permission;
}

export const NAV: readonly NavEntry[] = [
  { path: "/", label: "Dashboard", permission: "read" },
  { path: "/invoices", label: "Invoices", permission: "invoices" },
  { path: "/billing/payment-method", label: "Payment method", permission: "payment_method" },
  { path: "/api-keys", label: "API keys", permission: "api_keys" },
  { path: "/webhooks", label: "Webhooks", permission: "webhooks" },
  { path: "/usage-alerts", label: "Usage alerts", permission: "webhooks" },
  { path: "/tickets", label: "Support tickets", permission: "read" },
  { path: "/team", label: "Team", permission: "users" },
  { path: "/security", label: "Security", permission: "read" },
  { path: "/audit", label: "Audit trail", permission: "audit" },
  { path: "/notifications", label: "Notifications", permission: "read" },
];
