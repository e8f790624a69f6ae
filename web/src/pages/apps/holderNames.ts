// Names for user and device ids (previews answer with ids only): one GET per id not known yet,
// at most 100 per call so a big preview stays quick; the rest show their id.
import { api } from "../../api/client.ts";
import type { PreviewHolder } from "./appModel.ts";

export async function resolveHolderNames(
  holders: PreviewHolder[],
  known: Map<string, string>,
): Promise<Map<string, string>> {
  const out = new Map(known);
  const todo = holders.filter((h) => !out.has(h.id)).slice(0, 100);
  await Promise.all(
    todo.map(async (h) => {
      try {
        if (h.type === "user") {
          const u = await api<{ displayName?: string; userPrincipalName?: string }>(
            `/v1.0/users/${h.id}?$select=displayName,userPrincipalName`,
          );
          out.set(h.id, u.displayName || u.userPrincipalName || h.id);
        } else {
          const d = await api<{ deviceName?: string; serialNumber?: string }>(
            `/v1.0/deviceManagement/managedDevices/${h.id}`,
          );
          out.set(h.id, d.deviceName || d.serialNumber || h.id);
        }
      } catch {
        // unknown or not readable: the id stands in
      }
    }),
  );
  return out;
}
