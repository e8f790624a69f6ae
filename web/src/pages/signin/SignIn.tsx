// Sign-in with a local administrator account (POST /auth/login). Shown in place of any page while
// signed out, so a deep link opens where it points once signed in.
import {
  Button,
  Field,
  Input,
  MessageBar,
  MessageBarBody,
  makeStyles,
  Spinner,
  Text,
  tokens,
} from "@fluentui/react-components";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { ApiError } from "../../api/client.ts";
import { sessionKey, signIn } from "../../api/session.ts";

const useStyles = makeStyles({
  page: {
    minHeight: "100vh",
    display: "flex",
    alignItems: "center",
    justifyContent: "center",
    backgroundColor: tokens.colorNeutralBackground2,
  },
  card: {
    width: "380px",
    padding: "32px 40px",
    backgroundColor: tokens.colorNeutralBackground1,
    borderRadius: tokens.borderRadiusXLarge,
    boxShadow: tokens.shadow16,
    display: "flex",
    flexDirection: "column",
    gap: "16px",
  },
  product: { color: tokens.colorBrandForeground1, fontWeight: tokens.fontWeightSemibold },
});

export function SignIn({ expired }: { expired?: boolean }) {
  const s = useStyles();
  const qc = useQueryClient();
  const [upn, setUpn] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(upn.trim(), password);
      await qc.invalidateQueries({ queryKey: sessionKey });
    } catch (err) {
      setError(err instanceof ApiError ? err.message : "Sign-in failed: Allot could not be reached.");
      setBusy(false);
    }
  };

  return (
    <main className={s.page}>
      <form className={s.card} onSubmit={submit} aria-labelledby="signin-title">
        <Text className={s.product}>Allot admin center</Text>
        <Text as="h1" id="signin-title" size={600} weight="semibold">
          Sign in
        </Text>
        {expired && !error && (
          <MessageBar intent="info">
            <MessageBarBody>Your session ended. Sign in again to continue.</MessageBarBody>
          </MessageBar>
        )}
        <Field label="E-mail (sign-in name)" required>
          <Input type="email" autoComplete="username" value={upn} onChange={(_, d) => setUpn(d.value)} />
        </Field>
        <Field label="Password" required>
          <Input
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(_, d) => setPassword(d.value)}
          />
        </Field>
        {error && (
          <MessageBar intent="error" role="alert">
            <MessageBarBody>{error}</MessageBarBody>
          </MessageBar>
        )}
        <Button
          appearance="primary"
          type="submit"
          disabled={busy || !upn || !password}
          icon={busy ? <Spinner size="tiny" /> : undefined}
        >
          Sign in
        </Button>
        <Text size={200}>
          First time? Open the one-time setup link printed by the server to create the first administrator.
        </Text>
      </form>
    </main>
  );
}
