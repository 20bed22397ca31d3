/**
 * Who did it, in words: the audit trail's `actor` and a ticket comment's
 * `author` are the API's principal strings (`customer:<id>/user:<id>`,
 * `customer:<id>/key:<id>`, `operator:<id>`, `system` or `system:<job>`). The portal names a
 * person from GET /users and a key from GET /api-keys when the role may read
 * them (owners and admins may); otherwise it says what kind of actor it was.
 */
import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import type { components } from "../../api/schema";
import { useSession } from "../../session/useSession";

type User = components["schemas"]["UserResponse"];
type ApiKey = components["schemas"]["ApiKeyResponse"];

export type ParsedActor =
  | { kind: "user"; id: string }
  | { kind: "key"; id: string }
  | { kind: "operator" }
  | { kind: "system"; job: string | null }
  | { kind: "unknown"; raw: string };

export function parseActor(actor: string): ParsedActor {
  if (actor === "system") return { kind: "system", job: null };
  if (actor.startsWith("system:")) return { kind: "system", job: actor.slice("system:".length) || null };
  if (actor.startsWith("operator:")) return { kind: "operator" };
  const match = /^customer:[^/]+\/(user|key):(.+)$/.exec(actor);
  if (match) return { kind: match[1] === "user" ? "user" : "key", id: match[2]! };
  return { kind: "unknown", raw: actor };
}

export interface ActorDirectory {
  /** The logged-in person's id (their own actions read "You"). */
  selfId: string | null;
  selfEmail: string | null;
  users: ReadonlyMap<string, User>;
  keys: ReadonlyMap<string, ApiKey>;
}

export interface ActorName {
  /** Who, in words: "You", "Ada Lovelace", "API key “ci”", "Our support team"... */
  name: string;
  /** A second line: the e-mail or key prefix, or the short id when the name is unknown. */
  detail: string | null;
}

const shortId = (id: string) => id.slice(0, 8);

export function describeActor(actor: string, directory: ActorDirectory): ActorName {
  const parsed = parseActor(actor);
  switch (parsed.kind) {
    case "system":
      return { name: "System", detail: parsed.job ? `platform job: ${parsed.job}` : "an automatic job of the platform" };
    case "operator":
      return { name: "Platform operator", detail: "our staff" };
    case "unknown":
      return { name: parsed.raw, detail: null };
    case "user": {
      const user = directory.users.get(parsed.id);
      if (parsed.id === directory.selfId) return { name: "You", detail: directory.selfEmail };
      return user ? { name: user.name || user.email, detail: user.email } : { name: "A team member", detail: `user ${shortId(parsed.id)}` };
    }
    case "key": {
      const key = directory.keys.get(parsed.id);
      return key ? { name: `API key “${key.name}”`, detail: key.prefix } : { name: "An API key", detail: `key ${shortId(parsed.id)}` };
    }
  }
}

/**
 * The people and keys to name actors with (first 100 of each: enough for a
 * tenant's team; anyone beyond is shown by kind and short id). Roles that may
 * not list users or keys get an empty directory, never a 403.
 */
export function useActorDirectory(): ActorDirectory {
  const session = useSession();
  const mayListUsers = session.can("users");
  const mayListKeys = session.can("api_keys");
  const users = useQuery({
    queryKey: ["users", "directory"],
    enabled: mayListUsers,
    queryFn: () => unwrap(api.GET("/users", { params: { query: { limit: 100 } } })),
  });
  const keys = useQuery({
    queryKey: ["api-keys", "directory"],
    enabled: mayListKeys,
    queryFn: () => unwrap(api.GET("/api-keys", { params: { query: { limit: 100 } } })),
  });
  return {
    selfId: session.user?.id ?? null,
    selfEmail: session.user?.email ?? null,
    users: new Map((users.data?.items ?? []).map((u) => [u.id, u])),
    keys: new Map((keys.data?.items ?? []).map((k) => [k.id, k])),
  };
}
