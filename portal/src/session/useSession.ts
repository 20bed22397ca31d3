import { useContext } from "react";
import { SessionContext, type SessionValue } from "./SessionProvider";

/** The current session (inside <SessionProvider>). */
export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession() outside <SessionProvider>");
  return value;
}
