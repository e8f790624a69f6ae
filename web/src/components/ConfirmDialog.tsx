import {
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Spinner,
} from "@fluentui/react-components";
import { type ReactNode, useState } from "react";
import { ErrorBar } from "./ErrorBar.tsx";

/**
 * Asks before a consequential action. `onConfirm` may be async: the dialog shows progress, keeps
 * itself open and shows the error if it fails, and closes when it succeeds.
 */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  destructive?: boolean;
  onConfirm: () => unknown | Promise<unknown>;
  onClose: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const close = () => {
    if (busy) return;
    setError(null);
    props.onClose();
  };
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm();
      setBusy(false);
      props.onClose();
    } catch (err) {
      setBusy(false);
      setError(err);
    }
  };
  return (
    <Dialog open={props.open} modalType="alert" onOpenChange={(_, d) => !d.open && close()}>
      <DialogSurface>
        <DialogBody>
          <DialogTitle>{props.title}</DialogTitle>
          <DialogContent>
            {props.children}
            {error ? <ErrorBar error={error} title="It did not work" /> : null}
          </DialogContent>
          <DialogActions>
            <Button appearance="secondary" onClick={close} disabled={busy}>
              Cancel
            </Button>
            <Button
              appearance="primary"
              onClick={confirm}
              disabled={busy}
              icon={busy ? <Spinner size="tiny" /> : undefined}
              style={props.destructive ? { backgroundColor: "#b10e1c" } : undefined}
            >
              {props.confirmLabel}
            </Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}
