/**
 * The new password typed twice, as the invitation and the reset pages ask for it,
 * with the contract's rule as the hint (`passwordProblem` checks the pair on submit).
 */
import { TextInput } from "../ui";
import { PASSWORD_HINT } from "./passwordRules";

export function NewPasswordFields({
  label,
  password,
  confirm,
  onPassword,
  onConfirm,
}: {
  /** "Password" or "New password"; the second field is "Confirm <label, lower case>". */
  label: string;
  password: string;
  confirm: string;
  onPassword: (value: string) => void;
  onConfirm: (value: string) => void;
}) {
  return (
    <>
      <TextInput
        label={label}
        name="new-password"
        type="password"
        autoComplete="new-password"
        required
        hint={PASSWORD_HINT}
        value={password}
        onChange={(e) => onPassword(e.target.value)}
      />
      <TextInput
        label={`Confirm ${label.toLowerCase()}`}
        name="confirm-password"
        type="password"
        autoComplete="new-password"
        required
        value={confirm}
        onChange={(e) => onConfirm(e.target.value)}
      />
    </>
  );
}
