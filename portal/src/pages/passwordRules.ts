/** The contract's password rule (12–128 characters), checked before the API is asked. */
export const PASSWORD_HINT = "12 to 128 characters.";

export function passwordProblem(password: string, confirm: string): string | null {
  if (password.length < 12) return "The password must be at least 12 characters long.";
  if (password.length > 128) return "The password must be at most 128 characters long.";
  if (password !== confirm) return "The two passwords do not match.";
  return null;
}
