// Billing: the plan, invoices and checkout.
import { useState } from "react";
import useSWR from "swr";
import axios from "axios";
import { API_BASE, apiGet, apiPost, fetcher } from "../lib/api";

type Plan = { id: string; name: string; price_cents: number };
type Invoice = { id: string; period: string; amount_cents: number };

export default function BillingPage({ orgId }: { orgId: string }) {
  const { data: overview } = useSWR("/api/billing", fetcher);
  const { data: plans } = useSWR<{ plans: Plan[] }>("/api/billing/plans", fetcher);
  const { data: subscription } = useSWR(`/api/billing/subscription?orgId=${orgId}`, fetcher);
  const [invoices, setInvoices] = useState<Invoice[]>([]);

  async function loadInvoices(limit = 10) {
    const response = await fetch(`${API_BASE}/api/billing/invoices?limit=${limit}`, {
      credentials: "include",
    });
    setInvoices((await response.json()).invoices);
  }

  async function downloadAll() {
    // Mismatch: the backend serves /api/billing/invoices, without the trailing slash.
    const response = await fetch("/api/billing/invoices/", { headers: { Accept: "text/csv" } });
    return response.blob();
  }

  async function loadLegacyTotals() {
    // Mismatch: there is no /api/v1; billing lives at /api/billing.
    const { data } = await axios.get<{ balance_cents: number }>("/api/v1/billing");
    return data.balance_cents;
  }

  async function checkout(plan: string) {
    await apiPost("/api/billing/checkout", { plan });
    // Mismatch: the payments module was never shipped.
    const intent = await fetch("/api/payments/intent", {
      method: "POST",
      body: JSON.stringify({ plan }),
    });
    return intent.json();
  }

  // Static assets and third-party scripts are not API calls.
  void fetch("/static/logo.png");
  void fetch("https://cdn.example.com/pricing-widget.js");

  return (
    <main>
      <img src="/static/logo.png" alt="" />
      <h1>Billing</h1>
      <p>Plan: {overview?.plan}, renews {subscription?.renews_on}</p>
      <ul>
        {plans?.plans.map((p) => (
          <li key={p.id}>
            {p.name} <button onClick={() => checkout(p.id)}>Choose</button>
          </li>
        ))}
      </ul>
      <button onClick={() => loadInvoices()}>Invoices ({invoices.length})</button>
      <button onClick={downloadAll}>Download all</button>
      <button onClick={loadLegacyTotals}>Totals</button>
      <a href="mailto:billing@demo.test">Questions? Don't hesitate to ask.</a>
    </main>
  );
}

export async function getPlans(): Promise<Plan[]> {
  return (await apiGet<{ plans: Plan[] }>("/api/billing/plans")).plans;
}
