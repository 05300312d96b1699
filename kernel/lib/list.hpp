#pragma once
// Intrusive doubly linked list. Objects embed a ListNode and are linked without any
// allocation, which is what lets the scheduler and allocators link objects while holding
// spinlocks with interrupts off.

#include "lib/types.hpp"

struct ListNode {
    ListNode* prev = nullptr;
    ListNode* next = nullptr;

    bool linked() const { return next != nullptr; }
};

template <typename T, ListNode T::*Member>
class IntrusiveList {
public:
    IntrusiveList() { head_.prev = head_.next = &head_; }
    TESSERA_NO_COPY(IntrusiveList);
    TESSERA_NO_MOVE(IntrusiveList);

    bool empty() const { return head_.next == &head_; }
    usize size() const { return size_; }

    void push_back(T* item) { insert_before(&head_, node_of(item)); }
    void push_front(T* item) { insert_before(head_.next, node_of(item)); }
    // Links `item` just before `position`, which must be in this list.
    void insert_before(T* position, T* item) { insert_before(node_of(position), node_of(item)); }

    T* front() const { return empty() ? nullptr : owner_of(head_.next); }
    T* back() const { return empty() ? nullptr : owner_of(head_.prev); }

    T* pop_front() {
        T* item = front();
        if (item) remove(item);
        return item;
    }

    T* pop_back() {
        T* item = back();
        if (item) remove(item);
        return item;
    }

    void remove(T* item) {
        ListNode* node = node_of(item);
        node->prev->next = node->next;
        node->next->prev = node->prev;
        node->prev = node->next = nullptr;
        --size_;
    }

    bool contains(const T* item) const {
        for (const ListNode* n = head_.next; n != &head_; n = n->next)
            if (n == &(item->*Member)) return true;
        return false;
    }

    class Iterator {
    public:
        Iterator(ListNode* node) : node_(node) {}
        T* operator*() const { return owner_of(node_); }
        Iterator& operator++() {
            node_ = node_->next;
            return *this;
        }
        bool operator!=(const Iterator& other) const { return node_ != other.node_; }

    private:
        ListNode* node_;
    };

    // Iteration must not remove the current element; use pop_front loops for draining.
    Iterator begin() { return Iterator(head_.next); }
    Iterator end() { return Iterator(&head_); }

private:
    static ListNode* node_of(T* item) { return &(item->*Member); }
    static T* owner_of(ListNode* node) {
        // offsetof on a pointer-to-member: compute the member's offset from a null-based object.
        auto offset = reinterpret_cast<uptr>(&(reinterpret_cast<T*>(0x1000)->*Member)) - 0x1000;
        return reinterpret_cast<T*>(reinterpret_cast<uptr>(node) - offset);
    }

    void insert_before(ListNode* at, ListNode* node) {
        node->next = at;
        node->prev = at->prev;
        at->prev->next = node;
        at->prev = node;
        ++size_;
    }

    ListNode head_;
    usize size_ = 0;
};
