// loadgen: an open-loop HTTPS load generator for bench/webhook.py.
//
// Requests are scheduled evenly, one every 1/rate seconds, whatever the server does: a request
// whose turn comes while every connection is busy waits for one, and its latency is counted from its
// scheduled time (so a stalled server cannot hide its stall, the "coordinated omission" of closed-loop
// tools). hey's rate limit instead ticks every worker at the same instant, so at 1,000/s over 20
// workers it sends bursts of 20 every 20 ms and measures the queue of its own bursts.
//
// With several -body files the requests cycle through them. It prints one JSON object: the number of
// requests, errors, the achieved rate, and latency percentiles in milliseconds.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// dialled counts the connections opened: with keep-alive it stays at -conns unless the server closes them.
var dialled atomic.Int64

type result struct {
	latency time.Duration
	err     string
}

func main() {
	url := flag.String("url", "", "target URL")
	bodies := flag.String("body", "", "request body files, comma-separated (POSTed in turn)")
	rate := flag.Float64("rate", 1000, "requests per second; 0: each connection flat out (closed loop)")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	conns := flag.Int("conns", 32, "keep-alive connections")
	cacert := flag.String("cacert", "", "CA bundle that signed the server's certificate")
	flag.Parse()

	payloads := readBodies(*bodies)
	pool := caPool(*cacert)
	if *rate == 0 {
		flatOut(pool, *url, payloads, *conns, *duration)
		return
	}
	total := int(*rate * duration.Seconds())
	interval := time.Duration(float64(time.Second) / *rate)
	schedule := make(chan time.Time, total)
	results := make(chan result, total)

	var workers sync.WaitGroup
	var next int
	var nextLock sync.Mutex
	for i := 0; i < *conns; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			client := newClient(pool)
			for due := range schedule {
				nextLock.Lock()
				payload := payloads[next%len(payloads)]
				next++
				nextLock.Unlock()
				results <- send(client, *url, payload, due)
			}
		}()
	}
	start := time.Now().Add(50 * time.Millisecond)
	for i := 0; i < total; i++ {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		schedule <- due
	}
	close(schedule)
	workers.Wait()
	elapsed := time.Since(start)
	close(results)
	report(results, total, elapsed)
}

// flatOut sends from every connection as fast as the server answers, for the maximum rate.
func flatOut(pool *x509.CertPool, url string, payloads [][]byte, conns int, duration time.Duration) {
	deadline := time.Now().Add(duration)
	start := time.Now()
	perWorker := make([][]result, conns)
	var workers sync.WaitGroup
	for i := 0; i < conns; i++ {
		workers.Add(1)
		go func(offset int) {
			defer workers.Done()
			client := newClient(pool)
			for n := offset; time.Now().Before(deadline); n += conns {
				perWorker[offset] = append(perWorker[offset], send(client, url, payloads[n%len(payloads)], time.Now()))
			}
		}(i)
	}
	workers.Wait()
	elapsed := time.Since(start)
	total := 0
	for _, each := range perWorker {
		total += len(each)
	}
	results := make(chan result, total)
	for _, each := range perWorker {
		for _, one := range each {
			results <- one
		}
	}
	close(results)
	report(results, total, elapsed)
}

func readBodies(names string) [][]byte {
	var payloads [][]byte
	for _, name := range strings.Split(names, ",") {
		data, err := os.ReadFile(name)
		if err != nil {
			fail("cannot read a body: %v", err)
		}
		payloads = append(payloads, data)
	}
	return payloads
}

func caPool(cacert string) *x509.CertPool {
	pool := x509.NewCertPool()
	if cacert != "" {
		pem, err := os.ReadFile(cacert)
		if err != nil || !pool.AppendCertsFromPEM(pem) {
			fail("cannot read the CA bundle %s", cacert)
		}
	}
	return pool
}

// newClient is one worker's own keep-alive connection. There is no client timeout: Go cancels a
// request's pending dial when the request ends, and with a shared pool those half-open connections
// fill the server's accept queue and cost it a TLS handshake each.
func newClient(pool *x509.CertPool) *http.Client {
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 1,
		MaxConnsPerHost:     1,
		DisableCompression:  true,
	}
	return &http.Client{Transport: transport}
}

func send(client *http.Client, url string, payload []byte, due time.Time) result {
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if !info.Reused {
			dialled.Add(1)
		}
	}}
	request, err := http.NewRequestWithContext(
		httptrace.WithClientTrace(context.Background(), trace), http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		fail("bad request: %v", err)
	}
	request.Header.Set("Content-Type", "application/json")
	response, err := client.Do(request)
	if err != nil {
		return result{time.Since(due), err.Error()}
	}
	_, err = io.Copy(io.Discard, response.Body)
	response.Body.Close()
	latency := time.Since(due)
	if err != nil {
		return result{latency, err.Error()}
	}
	if response.StatusCode != http.StatusOK {
		return result{latency, fmt.Sprintf("HTTP %d", response.StatusCode)}
	}
	return result{latency, ""}
}

func report(results chan result, total int, elapsed time.Duration) {
	var latencies []float64
	errors := map[string]int{}
	for each := range results {
		latencies = append(latencies, float64(each.latency)/float64(time.Millisecond))
		if each.err != "" {
			errors[each.err]++
		}
	}
	sort.Float64s(latencies)
	at := func(fraction float64) float64 {
		index := int(fraction * float64(len(latencies)))
		if index >= len(latencies) {
			index = len(latencies) - 1
		}
		return latencies[index]
	}
	summary := map[string]any{
		"requests":    total,
		"errors":      errors,
		"achieved":    float64(total) / elapsed.Seconds(),
		"p50":         at(0.50),
		"p99":         at(0.99),
		"p999":        at(0.999),
		"max":         latencies[len(latencies)-1],
		"connections": dialled.Load(),
	}
	encoded, _ := json.Marshal(summary)
	fmt.Println(string(encoded))
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(2)
}
