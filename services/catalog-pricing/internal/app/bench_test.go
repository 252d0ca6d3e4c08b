package app_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/catalog-pricing/internal/erptest"
)

// The quote benchmark mirrors make bench's quote scenario (issue #11) in
// process: 20 lines for a customer with rules of every kind active (a
// contract on half the lines, a channel rule with .99 rounding and a
// margin floor, an automatic best-of, a stackable, a buy-X-get-Y, an
// order-level tiered spend and an entered exclusive code), next to a raw
// gRPC echo (a health Check on a bare server) measured in the same run,
// both over bufconn so the figures are the gRPC stack and the service, not
// the network.
const (
	benchLines    = 20
	benchCustomer = "C-BENCH"
	benchCode     = "BENCHQ10"
)

func benchSKU(i int) string { return sku(201 + i) }

// benchERP is the fake ERP with the benchmark's 20 extra SKUs on PL-EUR.
func benchERP() *fakeERP {
	f := newFakeERP()
	for i := range benchLines {
		f.products = append(f.products, &erpv1.Product{Sku: benchSKU(i), Title: "Bench " + benchSKU(i), BaseUnit: "EA",
			SalesState: erpv1.Product_SALES_STATE_ACTIVE, Category: "Tools > Bench"})
		f.prices = append(f.prices, &erpv1.ListPrice{PriceListId: "PL-EUR", Sku: benchSKU(i), Unit: "EA",
			UnitPrice: eur(int64(2000 + 137*i))})
	}
	return f
}

// setupBenchRules writes the rules of every kind through the RPCs.
func setupBenchRules(ctx context.Context, pc catalogv1.PricingServiceClient) error {
	start := timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	contract := &catalogv1.CustomerContract{Name: "customerContracts/BENCH", CustomerId: benchCustomer, CurrencyCode: "EUR"}
	var skus []string
	for i := range benchLines {
		skus = append(skus, benchSKU(i))
		if i < benchLines/2 {
			contract.Terms = append(contract.Terms, &catalogv1.ContractTerm{Scope: &catalogv1.ContractTerm_Sku{Sku: benchSKU(i)},
				Pricing: &catalogv1.ContractTerm_DiscountBps{DiscountBps: 700}})
		}
	}
	margin := int32(500)
	if _, err := pc.UpdateCustomerContract(ctx, &catalogv1.UpdateCustomerContractRequest{RequestId: "bench-contract",
		AllowMissing: true, CustomerContract: contract}); err != nil {
		return err
	}
	if _, err := pc.UpdateChannelRule(ctx, &catalogv1.UpdateChannelRuleRequest{RequestId: "bench-rule", AllowMissing: true,
		ChannelRule: &catalogv1.ChannelRule{Name: "channelRules/BENCH-WEB", Channel: "web", Skus: skus, AdjustmentBps: -100,
			Rounding: catalogv1.ChannelRule_ROUNDING_NINETY_NINE, MinMarginBps: &margin, StartTime: start}}); err != nil {
		return err
	}
	for _, p := range []*catalogv1.Promotion{
		{Name: "promotions/BENCH-AUTO", DisplayName: "Bench 5 %", Trigger: catalogv1.Promotion_TRIGGER_AUTOMATIC, Skus: skus[:15],
			Discount: &catalogv1.Promotion_DiscountBps{DiscountBps: 500}, StartTime: start},
		{Name: "promotions/BENCH-STACK", DisplayName: "Bench 0.10 off", Trigger: catalogv1.Promotion_TRIGGER_AUTOMATIC, Skus: skus[5:],
			Discount: &catalogv1.Promotion_UnitDiscount{UnitDiscount: eur(10)}, Combinability: catalogv1.Promotion_COMBINABILITY_STACKABLE, StartTime: start},
		{Name: "promotions/BENCH-B2G1", DisplayName: "Bench 3 for 2", Trigger: catalogv1.Promotion_TRIGGER_AUTOMATIC, Skus: skus[10:],
			Discount: &catalogv1.Promotion_BuyXGetY{BuyXGetY: &catalogv1.BuyXGetY{BuyQuantity: 2, GetQuantity: 1}}, StartTime: start},
		{Name: "promotions/BENCH-TIER", DisplayName: "Bench spend", Trigger: catalogv1.Promotion_TRIGGER_AUTOMATIC, StartTime: start, Skus: skus,
			Discount: &catalogv1.Promotion_SpendTiers{SpendTiers: &catalogv1.SpendTiers{Tiers: []*catalogv1.SpendTier{
				{MinSpend: eur(10000), Discount: &catalogv1.SpendTier_AmountOff{AmountOff: eur(500)}},
				{MinSpend: eur(50000), Discount: &catalogv1.SpendTier_DiscountBps{DiscountBps: 300}}}}}},
		{Name: "promotions/BENCH-CODE", DisplayName: "Bench code", Trigger: catalogv1.Promotion_TRIGGER_CODE, Code: benchCode,
			Discount: &catalogv1.Promotion_DiscountBps{DiscountBps: 1000}, Combinability: catalogv1.Promotion_COMBINABILITY_EXCLUSIVE, StartTime: start},
	} {
		if _, err := pc.UpdatePromotion(ctx, &catalogv1.UpdatePromotionRequest{RequestId: "bench-" + p.GetName(),
			AllowMissing: true, Promotion: p}); err != nil {
			return err
		}
	}
	return nil
}

// benchQuoteRequest is the benchmark's request; varied derives the
// quantities from i so no two calls of a run share a basket (every one is
// computed), summary asks for QUOTE_VIEW_SUMMARY.
func benchQuoteRequest(varied, summary bool, i int64) *catalogv1.QuotePricesRequest {
	req := &catalogv1.QuotePricesRequest{CustomerId: benchCustomer, Channel: "web", CurrencyCode: "EUR", PromotionCodes: []string{benchCode}}
	if summary {
		req.View = catalogv1.QuoteView_QUOTE_VIEW_SUMMARY
	}
	for l := range benchLines {
		qty := int64(1 + l%3)
		if varied {
			switch l {
			case 0:
				qty = 1 + i%1000
			case 1:
				qty = 1 + (i/1000)%1000
			default:
				qty = 1 + (i+int64(l))%50
			}
		}
		req.Lines = append(req.Lines, &catalogv1.QuoteRequestLine{Sku: benchSKU(l), Quantity: qty})
	}
	return req
}

// startEcho serves a bare gRPC health server over bufconn.
func startEcho(b *testing.B) healthpb.HealthClient {
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	b.Cleanup(srv.Stop)
	return healthpb.NewHealthClient(dialBuf(b, lis))
}

// processCPU is the CPU time (user + system) the process used so far:
// client, server and the gRPC stack in between, which on a shared machine
// is a steadier measure than wall time.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkQuoteVsEcho measures QuotePrices (repeated basket and varied
// quantities) and a raw gRPC echo at 16 concurrent callers in the same run
// and prints quote/echo ratios, issue #11's measure (goal ≥ 0.6×): by
// throughput (wall time per call) and by CPU per call of the whole process
// (client and server, as make bench's harness and mesh share the machine).
//
//	go test ./internal/app -run '^$' -bench QuoteVsEcho -benchtime 2s
func BenchmarkQuoteVsEcho(b *testing.B) {
	in := start(b, testEnv(b, nil), erptest.Serve(b, benchERP()))
	in.waitReady(b)
	ctx := context.Background()
	if err := setupBenchRules(ctx, in.pricing); err != nil {
		b.Fatal(err)
	}
	echo := startEcho(b)
	const callers = 16
	perOp, cpuPerOp := map[string]time.Duration{}, map[string]time.Duration{}
	run := func(name string, call func(i int64) error) {
		b.Run(name, func(b *testing.B) {
			if err := call(0); err != nil { // warm caches and connections
				b.Fatal(err)
			}
			var seq atomic.Int64
			b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			start, cpu0 := time.Now(), processCPU(b)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := call(seq.Add(1)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			perOp[name] = time.Since(start) / time.Duration(b.N)
			cpuPerOp[name] = (processCPU(b) - cpu0) / time.Duration(b.N)
			b.ReportMetric(float64(cpuPerOp[name].Microseconds()), "cpu-µs/op")
		})
	}
	run("echo", func(int64) error {
		_, err := echo.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	})
	// The same empty health check through the service's own server: the
	// platform's chain (otelgrpc, recovery, correlation, deadline, access
	// log, metrics, protovalidate) without any pricing.
	chain := healthpb.NewHealthClient(in.conn)
	run("health-via-service-chain", func(int64) error {
		_, err := chain.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	})
	names := []string{"health-via-service-chain"}
	for _, summary := range []bool{false, true} {
		for _, varied := range []bool{false, true} {
			name := map[bool]string{false: "quote-repeat", true: "quote-varied"}[varied]
			if summary {
				name += "-summary"
			}
			names = append(names, name)
			base := int64(len(names)) << 32 // no basket shared across sub-benchmarks
			run(name, func(i int64) error {
				_, err := in.pricing.QuotePrices(ctx, benchQuoteRequest(varied, summary, base+i))
				return err
			})
		}
	}
	if e := perOp["echo"]; e > 0 {
		for _, name := range names {
			if d := perOp[name]; d > 0 {
				fmt.Printf("%s/echo at c=%d: %.3f× by wall time (%v vs %v per call), %.3f× by CPU (%v vs %v per call)\n", name, callers,
					float64(e)/float64(d), d, e, float64(cpuPerOp["echo"])/float64(cpuPerOp[name]), cpuPerOp[name], cpuPerOp["echo"])
			}
		}
	}
}
