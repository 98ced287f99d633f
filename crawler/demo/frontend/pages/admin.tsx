// Administration: users, the audit log, webhook status.
import axios from "axios";
import { apiGet } from "../lib/api";

type User = { id: number; email: string; role: string };
type AuditEntry = { id: number; actor: string; action: string; at: string };

export async function loadUsers(): Promise<User[]> {
  return (await apiGet<{ users: User[] }>("/api/admin/users")).users;
}

export async function loadUser(user: User): Promise<User> {
  const { data } = await axios.get<User>("/api/users/" + user.id);
  return data;
}

export async function loadManageableUsers(): Promise<User[]> {
  // Mismatch: the backend has /api/admin/users, not /api/admin/users/manage.
  return (await apiGet<{ users: User[] }>("/api/admin/users/manage")).users;
}

export async function loadRecentActivity(): Promise<AuditEntry[]> {
  // Mismatch: the audit log is mounted at /api/audit-logs.
  return (await apiGet<{ entries: AuditEntry[] }>("/api/audit")).entries;
}

export async function loadAuditLog(limit = 50): Promise<AuditEntry[]> {
  const { data } = await axios.get(`/api/audit-logs?limit=${limit}`);
  return data.entries;
}

export async function loadAuditEntry(entry: Pick<AuditEntry, "id">): Promise<AuditEntry> {
  const { data } = await axios({ url: `/api/audit-logs/${entry.id}`, method: "get" });
  return data;
}

export async function webhookStatus(): Promise<{ received: boolean }> {
  // Mismatch: /api/webhooks accepts POST only (the payment provider calls it).
  const response = await fetch("/api/webhooks");
  return response.json();
}

export async function exportMonthlyReport(): Promise<Blob> {
  const response = await fetch("/api/reports/export?format=csv");
  return response.blob();
}
