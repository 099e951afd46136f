package auth

import "testing"

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "correct horse battery") {
		t.Fatal("the right password is refused")
	}
	if CheckPassword(h, "correct horse batterz") {
		t.Fatal("a wrong password is accepted")
	}
	if _, err := HashPassword("short"); err == nil {
		t.Fatal("a 5-character password is accepted")
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
}
