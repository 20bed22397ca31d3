/**
 * Roles as the account pages (API keys, team) show and offer them: one label and
 * one badge per role, and the <Select> options limited to what the viewer may
 * grant (`grantableRoles`), so a role above one's own is never offered.
 */
import { grantableRoles, type Role } from "../../session/permissions";
import { Badge, type BadgeTone, type SelectOption } from "../../ui";

const LABEL: Record<Role, string> = {
  owner: "Owner",
  admin: "Admin",
  billing: "Billing",
  developer: "Developer",
  viewer: "Viewer",
};

/** What each role may do, in a few words (shown under a role <Select>). */
const SUMMARY: Record<Role, string> = {
  owner: "everything, including managing other owners",
  admin: "everything except managing owners",
  billing: "invoices and the payment method",
  developer: "usage, API keys, webhooks and alerts",
  viewer: "read only: usage, invoices, tickets",
};

// Owners and admins manage the organization: set apart; the other roles share the neutral badge.
const TONE: Record<Role, BadgeTone> = { owner: "info", admin: "info", billing: "neutral", developer: "neutral", viewer: "neutral" };

export function roleLabel(role: Role): string {
  return LABEL[role];
}

export function RoleBadge({ role }: { role: Role }) {
  return <Badge tone={TONE[role]}>{LABEL[role]}</Badge>;
}

/** Options for the roles `granter` may give (empty when none). */
export function grantableRoleOptions(granter: Role | null | undefined): SelectOption[] {
  return grantableRoles(granter).map((role) => ({ value: role, label: `${LABEL[role]} — ${SUMMARY[role]}` }));
}

/** `preferred` when `granter` may give it, else the least powerful role they may give. */
export function defaultGrantableRole(granter: Role | null | undefined, preferred: Role): Role | null {
  const roles = grantableRoles(granter);
  if (roles.includes(preferred)) return preferred;
  return roles[roles.length - 1] ?? null;
}

export function isRole(value: string): value is Role {
  return value in LABEL;
}
