// Upload (or renew) a .vpptoken: the file, the Apple ID, storefront, account type and automatic
// updates; when Apple says another MDM manages the location, the take-over consent; every outcome
// of the upload explained in words.
import {
  Button,
  Checkbox,
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
  makeStyles,
  Radio,
  RadioGroup,
  Spinner,
  Switch,
} from "@fluentui/react-components";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { ApiError, api } from "../../api/client.ts";
import { ErrorBar } from "../../components/ErrorBar.tsx";
import { TOKENS_PATH, tokenName, type VppToken } from "./tokenModel.ts";

const useStyles = makeStyles({
  form: { display: "flex", flexDirection: "column", gap: "12px" },
  row: { display: "flex", gap: "12px", "> *": { flex: 1 } },
});

/** What an upload's answer means, for the administrator. */
function explainSuccess(
  t: VppToken,
  renew: boolean,
): { intent: "success" | "warning"; title: string; text: string } {
  if (t.state === "duplicateLocationId")
    return {
      intent: "warning",
      title: "Uploaded, but this location is already here",
      text: `Another token in this tenant is for the same Apple location. Both are kept; delete the older one once you have checked "${tokenName(t)}".`,
    };
  return {
    intent: "success",
    title: renew ? "Token renewed" : "Token uploaded and valid",
    text: `Apple accepted the token for ${t.organizationName ?? "the organisation"}${t.expirationDateTime ? `; it expires on ${new Date(t.expirationDateTime).toLocaleDateString()}` : ""}. The first sync of apps and licenses has started; its progress shows in the list.`,
  };
}

function explainError(err: unknown): string | null {
  if (!(err instanceof ApiError)) return null;
  const m = err.message.toLowerCase();
  if (m.includes("expired"))
    return "Download a new token in Apple Business Manager (Preferences → Payments and Billing) and upload that.";
  if (m.includes("revoked"))
    return "The token was replaced at Apple: download the current one and upload it.";
  if (err.status === 409 && m.includes("another tenant"))
    return "Only one Allot tenant can manage a location.";
  if (err.status === 400 && m.includes("same location"))
    return "A renewal must be the new token of the same Apple location.";
  return null;
}

export function UploadTokenDialog(props: { open: boolean; renew?: VppToken; onClose: () => void }) {
  const s = useStyles();
  const qc = useQueryClient();
  const renew = props.renew;
  const [fileText, setFileText] = useState<string | null>(null);
  const [fileName, setFileName] = useState("");
  const [appleId, setAppleId] = useState(renew?.appleId ?? "");
  const [displayName, setDisplayName] = useState(renew?.displayName ?? "");
  const [country, setCountry] = useState(renew?.countryOrRegion ?? "");
  const [accountType, setAccountType] = useState<string>(renew?.vppTokenAccountType ?? "business");
  const [autoUpdate, setAutoUpdate] = useState(renew?.automaticallyUpdateApps ?? true);
  const [claim, setClaim] = useState(false);
  const [needsClaim, setNeedsClaim] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<VppToken | null>(null);

  const reset = () => {
    setFileText(null);
    setFileName("");
    setClaim(false);
    setNeedsClaim(false);
    setError(null);
    setResult(null);
  };
  const close = () => {
    if (busy) return;
    reset();
    props.onClose();
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!fileText) return;
    setBusy(true);
    setError(null);
    const body: Record<string, unknown> = {
      token: fileText.trim(),
      appleId: appleId.trim() || null,
      countryOrRegion: country.trim() ? country.trim().toUpperCase() : null,
      vppTokenAccountType: accountType,
      automaticallyUpdateApps: autoUpdate,
      displayName: displayName.trim() || null,
    };
    if (claim) body.claimTokenManagementFromExternalMdm = true;
    try {
      const t = await api<VppToken>(renew ? `${TOKENS_PATH}/${renew.id}` : TOKENS_PATH, {
        method: renew ? "PATCH" : "POST",
        body,
      });
      setResult(t);
      await qc.invalidateQueries({ queryKey: ["vppTokens"] });
    } catch (err) {
      if (
        err instanceof ApiError &&
        err.status === 409 &&
        err.message.includes("claimTokenManagementFromExternalMdm")
      )
        setNeedsClaim(true);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const outcome = result ? explainSuccess(result, !!renew) : null;
  const hint = explainError(error);

  return (
    <Dialog open={props.open} onOpenChange={(_, d) => !d.open && close()}>
      <DialogSurface aria-describedby={undefined}>
        <form onSubmit={submit}>
          <DialogBody>
            <DialogTitle>{renew ? `Renew ${tokenName(renew)}` : "Upload a VPP token"}</DialogTitle>
            <DialogContent className={s.form}>
              {outcome ? (
                <MessageBar intent={outcome.intent} layout="multiline">
                  <MessageBarBody>
                    <MessageBarTitle>{outcome.title}</MessageBarTitle>
                    {outcome.text}
                  </MessageBarBody>
                </MessageBar>
              ) : (
                <>
                  <MessageBar intent="info" layout="multiline">
                    <MessageBarBody>
                      A location token is valid for one year. Download it in Apple Business (or School)
                      Manager → Preferences → Payments and Billing; renew it here before it expires.
                    </MessageBarBody>
                  </MessageBar>
                  <Field label="Token file (.vpptoken)" required hint={fileName || undefined}>
                    <input
                      type="file"
                      accept=".vpptoken,text/plain"
                      aria-label="Token file (.vpptoken)"
                      onChange={async (e) => {
                        const f = e.target.files?.[0];
                        setFileName(f?.name ?? "");
                        setFileText(f ? await f.text() : null);
                      }}
                    />
                  </Field>
                  <Field label="Name in Allot (optional)">
                    <Input value={displayName} onChange={(_, d) => setDisplayName(d.value)} />
                  </Field>
                  <Field label="Apple ID of the Apple Business Manager account">
                    <Input
                      type="email"
                      value={appleId}
                      onChange={(_, d) => setAppleId(d.value)}
                      placeholder="vpp@contoso.com"
                    />
                  </Field>
                  <div className={s.row}>
                    <Field label="Country or region (2 letters)" hint="Empty: the location's own storefront">
                      <Input value={country} maxLength={2} onChange={(_, d) => setCountry(d.value)} />
                    </Field>
                    <Field label="Account type">
                      <RadioGroup
                        layout="horizontal"
                        value={accountType}
                        onChange={(_, d) => setAccountType(d.value)}
                      >
                        <Radio value="business" label="Business" />
                        <Radio value="education" label="Education" />
                      </RadioGroup>
                    </Field>
                  </div>
                  <Switch
                    checked={autoUpdate}
                    onChange={(_, d) => setAutoUpdate(d.checked)}
                    label="Update apps automatically when the App Store has a new version"
                  />
                  {needsClaim && (
                    <MessageBar intent="warning" layout="multiline">
                      <MessageBarBody>
                        <MessageBarTitle>Another MDM manages this location</MessageBarTitle>
                        Taking control moves it to Allot; the other MDM can no longer assign or revoke its
                        licenses. The take-over is recorded in the audit log.
                        <Checkbox
                          checked={claim}
                          onChange={(_, d) => setClaim(!!d.checked)}
                          label="Take control of this token from the other MDM"
                        />
                      </MessageBarBody>
                    </MessageBar>
                  )}
                  {error ? (
                    <ErrorBar
                      error={error}
                      title={renew ? "The token was not renewed" : "The token was not uploaded"}
                    />
                  ) : null}
                  {hint && (
                    <MessageBar intent="info">
                      <MessageBarBody>{hint}</MessageBarBody>
                    </MessageBar>
                  )}
                </>
              )}
            </DialogContent>
            <DialogActions>
              {outcome ? (
                <Button appearance="primary" onClick={close}>
                  Done
                </Button>
              ) : (
                <>
                  <Button appearance="secondary" onClick={close} disabled={busy}>
                    Cancel
                  </Button>
                  <Button
                    appearance="primary"
                    type="submit"
                    disabled={busy || !fileText || (needsClaim && !claim)}
                    icon={busy ? <Spinner size="tiny" /> : undefined}
                  >
                    {busy ? "Checking with Apple…" : renew ? "Renew" : "Upload"}
                  </Button>
                </>
              )}
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}
