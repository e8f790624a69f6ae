// Settings building blocks: the "secret shown once" panel and a small form dialog.
import {
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Field,
  Input,
  MessageBar,
  MessageBarBody,
  MessageBarTitle,
} from "@fluentui/react-components";
import { CopyRegular } from "@fluentui/react-icons";
import { type ReactNode, useState } from "react";
import { ErrorBar } from "../../components/ErrorBar.tsx";

/** A secret the API returns once: shown here until dismissed, never fetched again. */
export function SecretOnce(props: {
  title: string;
  label: string;
  secret: string;
  extra?: ReactNode;
  onDone: () => void;
}) {
  const [copied, setCopied] = useState(false);
  return (
    <MessageBar
      intent="warning"
      layout="multiline"
      role="region"
      aria-label={props.title}
      style={{ marginBottom: 12 }}
    >
      <MessageBarBody>
        <MessageBarTitle>{props.title}</MessageBarTitle>
        Copy it now: Allot stores only a hash and will not show it again.
        {props.extra}
        <div style={{ display: "flex", gap: 8, alignItems: "flex-end", marginTop: 8 }}>
          <Field label={props.label} style={{ flex: 1 }}>
            <Input readOnly value={props.secret} style={{ fontFamily: "monospace" }} />
          </Field>
          <Button
            icon={<CopyRegular />}
            onClick={async () => {
              await navigator.clipboard?.writeText(props.secret).catch(() => undefined);
              setCopied(true);
            }}
          >
            {copied ? "Copied" : "Copy"}
          </Button>
          <Button appearance="primary" onClick={props.onDone}>
            I have saved it
          </Button>
        </div>
      </MessageBarBody>
    </MessageBar>
  );
}

/** A dialog with a form; `onSubmit` errors are shown in it, success closes it. */
export function FormDialog(props: {
  open: boolean;
  title: string;
  submitLabel: string;
  children: ReactNode;
  onSubmit: () => Promise<unknown>;
  onClose: () => void;
  disabled?: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <Dialog open={props.open} onOpenChange={(_, d) => !d.open && !busy && props.onClose()}>
      <DialogSurface>
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            setError(null);
            try {
              await props.onSubmit();
              props.onClose();
            } catch (err) {
              setError(err);
            } finally {
              setBusy(false);
            }
          }}
        >
          <DialogBody>
            <DialogTitle>{props.title}</DialogTitle>
            <DialogContent style={{ display: "flex", flexDirection: "column", gap: 12 }}>
              {props.children}
              {error ? <ErrorBar error={error} /> : null}
            </DialogContent>
            <DialogActions>
              <Button onClick={props.onClose} disabled={busy}>
                Cancel
              </Button>
              <Button type="submit" appearance="primary" disabled={busy || props.disabled}>
                {busy ? "Working…" : props.submitLabel}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}

export { ROLES, roleName } from "../../api/roles.ts";

export function Note(props: { children: ReactNode }) {
  return (
    <MessageBar intent="info" style={{ marginBottom: 12 }}>
      <MessageBarBody>{props.children}</MessageBarBody>
    </MessageBar>
  );
}
