package groups

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
)

// saramaHandler consumes and marks every message.
type saramaHandler struct{ got *consumed }

func (saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.got.add(m.Partition, m.Offset, string(m.Value))
		s.MarkMessage(m, "")
	}
	return nil
}

// TestSaramaSplit: three sarama ConsumerGroup members split six partitions
// and together read every record.
func TestSaramaSplit(t *testing.T) {
	t.Parallel()
	n := startNode(t, "")
	addr := n.KafkaAddr()
	setup(t, addr, "st", 6, 120)
	ctx := testContext(t, 45*time.Second)
	adm := kadm.NewClient(newClient(t, addr))

	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.ClientID = "groups-sarama"
	cfg.Consumer.Group.Session.Timeout = 6 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 200 * time.Millisecond
	got := newConsumed()
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for i := 0; i < 3; i++ {
		g, err := sarama.NewConsumerGroup([]string{addr}, "sg", cfg)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer g.Close()
			for cctx.Err() == nil {
				if err := g.Consume(cctx, []string{"st"}, saramaHandler{got}); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) && cctx.Err() == nil {
					t.Logf("sarama consume: %v", err)
				}
			}
		}()
	}
	a := waitSplit(ctx, t, adm, "sg", "st", 3, 6)
	t.Logf("sarama members: %v", a)
	if err := waitFor(ctx, "all records", func() error {
		if got.count() < 120 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, "auto commits", func() error {
		lags, err := adm.Lag(ctx, "sg")
		if err != nil {
			return err
		}
		if total := lags["sg"].Lag.Total(); total != 0 {
			return errors.New("lag left")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestKafkaGoSplit: three kafka-go Readers with a GroupID split six
// partitions.
func TestKafkaGoSplit(t *testing.T) {
	t.Parallel()
	n := startNode(t, "")
	addr := n.KafkaAddr()
	setup(t, addr, "kt", 6, 60)
	ctx := testContext(t, 45*time.Second)
	adm := kadm.NewClient(newClient(t, addr))
	got := newConsumed()
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var readers []*kafka.Reader
	defer func() {
		cancel()
		wg.Wait()
		for _, r := range readers {
			r.Close()
		}
	}()
	for i := 0; i < 3; i++ {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: []string{addr}, GroupID: "kg", Topic: "kt",
			SessionTimeout: 6 * time.Second, HeartbeatInterval: 500 * time.Millisecond,
			RebalanceTimeout: 10 * time.Second, StartOffset: kafka.FirstOffset,
			CommitInterval: 100 * time.Millisecond, MaxWait: 200 * time.Millisecond,
		})
		readers = append(readers, r)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := r.ReadMessage(rctx)
				if err != nil {
					return
				}
				got.add(int32(m.Partition), m.Offset, string(m.Value))
			}
		}()
	}
	a := waitSplit(ctx, t, adm, "kg", "kt", 3, 6)
	t.Logf("kafka-go members: %v", a)
	if err := waitFor(ctx, "all records", func() error {
		if got.count() < 60 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
