import type { ButtonHTMLAttributes, ReactNode } from "react";
import { Spinner } from "./Spinner";

export type ButtonVariant = "primary" | "secondary" | "danger" | "ghost";

export interface ButtonProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  variant?: ButtonVariant;
  size?: "md" | "sm";
  /** Shows a spinner, disables the button and sets aria-busy (the label stays: it is the button's name). */
  loading?: boolean;
  children: ReactNode;
}

/** The one button. `type` defaults to "button" (a form's submit says type="submit"). */
export function Button({ variant = "primary", size = "md", loading = false, disabled, className, type, children, ...rest }: ButtonProps) {
  const classes = ["btn", `btn-${variant}`, size === "sm" ? "btn-sm" : "", className ?? ""].filter(Boolean).join(" ");
  return (
    <button type={type ?? "button"} className={classes} disabled={disabled || loading} aria-busy={loading || undefined} {...rest}>
      {loading ? <Spinner size="sm" decorative /> : null}
      <span>{children}</span>
    </button>
  );
}
