/**
 * The contract's tenant-role table (API_REFERENCE.md, "Tenant roles"), mirrored.
 *
 * Why mirror it: what a role may not do is not offered (no nav entry, page or
 * button), rather than offered and then refused. The API still enforces the table;
 * this copy only decides what to show.
 */
import type { components } from "../api/schema";

export type Role = components["schemas"]["TenantRole"];

export const ROLES: readonly Role[] = ["owner", "admin", "billing", "developer", "viewer"];

export type Permission =
  /** read profile, usage, notifications, tickets */
  | "read"
  /** send usage events */
  | "send_usage"
  /** read invoices, PDFs, upcoming invoice */
  | "invoices"
  /** manage the payment method */
  | "payment_method"
  /** manage API keys */
  | "api_keys"
  /** open, comment on and close tickets */
  | "tickets_write"
  /** manage webhook endpoints and usage alerts */
  | "webhooks"
  /** read the audit trail (and its chain head) */
  | "audit"
  /** invite and manage users, tenant settings (require_mfa) */
  | "users";

const TABLE: Record<Permission, readonly Role[]> = {
  read: ["owner", "admin", "billing", "developer", "viewer"],
  send_usage: ["owner", "admin", "developer"],
  invoices: ["owner", "admin", "billing", "viewer"],
  payment_method: ["owner", "admin", "billing"],
  api_keys: ["owner", "admin", "developer"],
  tickets_write: ["owner", "admin", "billing", "developer"],
  webhooks: ["owner", "admin", "developer"],
  audit: ["owner", "admin"],
  users: ["owner", "admin"],
};

/** May `role` do `permission`? (No role, e.g. before /users/me answered: nothing.) */
export function can(role: Role | null | undefined, permission: Permission): boolean {
  return role != null && TABLE[permission].includes(role);
}

/** Everything `role` may do. */
function permissionsOf(role: Role): Permission[] {
  return (Object.keys(TABLE) as Permission[]).filter((p) => TABLE[p].includes(role));
}

/**
 * May `granter` give `role` to someone (a person or a new API key)? The backend's
 * `permissions.may_grant`: `role` may do nothing `granter` may not, and only an owner
 * makes an owner. So an admin gives admin/billing/developer/viewer, billing gives
 * billing/viewer, a developer developer, a viewer viewer.
 */
export function mayGrant(granter: Role | null | undefined, role: Role): boolean {
  if (granter == null) return false;
  if (role === "owner" && granter !== "owner") return false;
  const held = permissionsOf(granter);
  return permissionsOf(role).every((p) => held.includes(p));
}

/** The roles `granter` may give, in the table's order (for a role <Select>). */
export function grantableRoles(granter: Role | null | undefined): Role[] {
  return ROLES.filter((role) => mayGrant(granter, role));
}

/**
 * May `actor` change the role of, or remove, a member whose role is `target`?
 * (Needs the `users` permission, and `target` must be grantable: an admin never
 * touches an owner.) For a change, check the new role with {@link mayGrant} too.
 */
export function canManageMember(actor: Role | null | undefined, target: Role): boolean {
  return can(actor, "users") && mayGrant(actor, target);
}
